"""manage.py seed [N]: replaces every Item with item-1 .. item-N (ids 1..N)."""
from django.core.management.base import BaseCommand

from app.models import Item


class Command(BaseCommand):
    help = "Create the fixture items item-1 .. item-N with ids 1..N"

    def add_arguments(self, parser):
        parser.add_argument("count", nargs="?", type=int, default=5)

    def handle(self, *args, **options):
        Item.objects.all().delete()
        Item.objects.bulk_create(
            [Item(id=i, name="item-%d" % i) for i in range(1, options["count"] + 1)]
        )
        self.stdout.write("seeded %d items" % options["count"])
