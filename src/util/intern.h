/* Interned strings: file and function names shared by every frame that shows them. */
#ifndef SCOOBY_INTERN_H
#define SCOOBY_INTERN_H

/* Returns the one copy of s kept for the life of the process, or NULL on ENOMEM
 * (or when s is NULL). Never freed: the set is bounded by the distinct names seen. */
const char *intern(const char *s);

#endif /* SCOOBY_INTERN_H */
