from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A site user. ``username`` is the API's ``userID``."""

    display_name = models.CharField(max_length=150, blank=True)
    preferences = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.display_name or self.username
