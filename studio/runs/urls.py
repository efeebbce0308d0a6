from django.urls import path

from studio.runs import views

app_name = "runs"

urlpatterns = [
    path("start/<uuid:crew_id>/", views.start, name="start"),
    path("<uuid:run_id>/", views.run_detail, name="detail"),
    path("<uuid:run_id>/questions/<uuid:request_id>/reply/", views.reply, name="reply"),
    path("<uuid:run_id>/cancel/", views.cancel, name="cancel"),
]
