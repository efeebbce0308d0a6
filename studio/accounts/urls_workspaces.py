"""Team sharing pages, under /workspaces/ (namespace "workspaces")."""

from django.urls import path

from studio.accounts import views_copy, views_invitations, views_teams

app_name = "workspaces"

urlpatterns = [
    path("", views_teams.index, name="index"),
    path("new/", views_teams.create, name="create"),
    path("switch/", views_teams.switch, name="switch"),
    path("join/<str:token>/", views_invitations.join, name="join"),
    path("inbox/<uuid:invitation_id>/", views_invitations.respond, name="respond"),
    path("copy-crew/<uuid:public_id>/", views_copy.copy_crew, name="copy_crew"),
    path("<uuid:public_id>/", views_teams.members, name="members"),
    path("<uuid:public_id>/rename/", views_teams.rename, name="rename"),
    path("<uuid:public_id>/delete/", views_teams.delete, name="delete"),
    path("<uuid:public_id>/leave/", views_teams.leave, name="leave"),
    path("<uuid:public_id>/audit/", views_teams.audit_log, name="audit"),
    path("<uuid:public_id>/members/<uuid:user_id>/role/", views_teams.member_role, name="member_role"),
    path("<uuid:public_id>/members/<uuid:user_id>/remove/", views_teams.member_remove, name="member_remove"),
    path("<uuid:public_id>/invitations/", views_invitations.manage, name="invitations"),
    path("<uuid:public_id>/invitations/<uuid:invitation_id>/revoke/", views_invitations.revoke,
         name="invitation_revoke"),
]
