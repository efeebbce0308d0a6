from django.urls import include, path

from studio.runs import views

app_name = "runs"

urlpatterns = [
    path("start/<uuid:crew_id>/", views.start, name="start"),
    path("<uuid:run_id>/", views.run_detail, name="detail"),
    path("<uuid:run_id>/questions/<uuid:request_id>/reply/", views.reply, name="reply"),
    path("<uuid:run_id>/cancel/", views.cancel, name="cancel"),
]

# Read-only share links (studio/runs/sharing.py): the link list, revoking, and the shared page.
urlpatterns += [path("", include("studio.runs.sharing"))]

# The runs list (a workspace's or one crew's) and the run page's panel refresh.
urlpatterns += [
    path("", views.run_list, name="list"),
    path("<uuid:run_id>/panel/", views.panel, name="panel"),
]
