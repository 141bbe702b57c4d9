from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Print the key of the X-Signature HMAC on POSTs to NOTIFY_URL, for the receiver: "
        "NOTIFY_SECRET, or the key derived from SECRET_KEY when it is not set."
    )

    def handle(self, *args, **options):
        self.stdout.write(settings.NOTIFY_SECRET)
