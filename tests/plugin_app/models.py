from django.conf import settings
from django.db import models


class Note(models.Model):
    """The site's own object that its ``notes`` mode talks about."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=100)
    body = models.TextField(blank=True)
    archived = models.BooleanField(default=False)
    #: How many conversations were started about the note (``on_session_start``).
    conversations_started = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.title
