"""The builder's pages: models, agents, crews (with the canvas), gallery, import/export, versions."""

from django.urls import path

from studio.crews import views_agents, views_canvas, views_crews, views_exchange, views_models, views_versions

app_name = "crews"

urlpatterns = [
    # models (LLM endpoints)
    path("models/", views_models.model_list, name="model_list"),
    path("models/new/", views_models.model_create, name="model_create"),
    path("models/<uuid:public_id>/", views_models.model_edit, name="model_edit"),
    path("models/<uuid:public_id>/test/", views_models.model_test, name="model_test"),
    path("models/<uuid:public_id>/delete/", views_models.model_delete, name="model_delete"),
    # agents
    path("agents/", views_agents.agent_list, name="agent_list"),
    path("agents/new/", views_agents.agent_create, name="agent_create"),
    path("agents/<uuid:public_id>/", views_agents.agent_edit, name="agent_edit"),
    path("agents/<uuid:public_id>/delete/", views_agents.agent_delete, name="agent_delete"),
    path("agents/<uuid:public_id>/versions/", views_versions.agent_versions, name="agent_versions"),
    path("agents/<uuid:public_id>/versions/<int:number>/restore/", views_versions.agent_restore,
         name="agent_restore"),
    # crews
    path("crews/", views_crews.crew_list, name="crew_list"),
    path("crews/new/", views_crews.crew_create, name="crew_create"),
    path("crews/import/", views_exchange.import_page, name="import"),
    path("crews/<uuid:public_id>/", views_crews.crew_detail, name="crew_detail"),
    path("crews/<uuid:public_id>/edit/", views_crews.crew_edit, name="crew_edit"),
    path("crews/<uuid:public_id>/delete/", views_crews.crew_delete, name="crew_delete"),
    path("crews/<uuid:public_id>/export/", views_exchange.crew_export, name="crew_export"),
    path("crews/<uuid:public_id>/versions/", views_versions.crew_versions, name="crew_versions"),
    path("crews/<uuid:public_id>/versions/<int:number>/restore/", views_versions.crew_restore, name="crew_restore"),
    # the canvas
    path("crews/<uuid:public_id>/members/", views_canvas.crew_members, name="crew_members"),
    path("crews/<uuid:public_id>/members/add/", views_canvas.crew_member_add, name="crew_member_add"),
    path("crews/<uuid:public_id>/members/remove/", views_canvas.crew_member_remove, name="crew_member_remove"),
    path("crews/<uuid:public_id>/members/move/", views_canvas.crew_member_move, name="crew_member_move"),
    path("crews/<uuid:public_id>/transitions/", views_canvas.crew_transitions, name="crew_transitions"),
    # gallery
    path("gallery/", views_exchange.gallery, name="gallery"),
    path("gallery/<slug:slug>/use/", views_exchange.gallery_use, name="gallery_use"),
]
