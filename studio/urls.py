from django.urls import include, path

from studio import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("studio.accounts.urls")),
    path("workspaces/", include("studio.accounts.urls_workspaces")),
    path("system/", include("studio.system.urls")),
    path("runs/", include("studio.runs.urls")),
    path("", include("studio.crews.urls")),
]
