from django.apps import AppConfig


class SystemConfig(AppConfig):
    name = "studio.system"
    label = "system"
    verbose_name = "System"
