from django.urls import path

from studio.system import views

app_name = "system"

urlpatterns = [
    path("", views.status_page, name="status"),
    path("docker/", views.docker_fragment, name="docker"),
    path("worker-check/", views.worker_check, name="worker_check"),
]
