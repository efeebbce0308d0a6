from django.apps import AppConfig


class CrewsConfig(AppConfig):
    name = "studio.crews"
    label = "crews"
    verbose_name = "Crews"
