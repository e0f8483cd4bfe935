"""gunicorn -c: each worker says it has loaded the app (a file named by its pid in
$LAZYDJ_READY_DIR), so the test knows it is ready without a request, which would load the
database driver (Django's request signals touch every connection)."""
import os


def post_worker_init(worker):
    with open(os.path.join(os.environ["LAZYDJ_READY_DIR"], str(worker.pid)), "w"):
        pass
