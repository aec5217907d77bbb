from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from icbt import views

admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "icbt platform administration"

handler500 = "icbt.views.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("help/", views.crisis_help, name="crisis_help"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages without our <head> (the admin, a PDF, a JSON answer).
    path("favicon.ico", views.favicon, name="favicon"),
    path("invitation/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("settings/", views.personal_settings, name="personal_settings"),
    path("settings/sign-ins/", views.sign_in_history, name="sign_in_history"),
    path("session/keep-alive/", views.session_keep_alive, name="session_keep_alive"),
    path("styleguide/", views.styleguide, name="styleguide"),
    # Our own address change takes the place of allauth's address management (which let a
    # signed-in person add anyone's address); under /accounts/ so that staff can reach it before
    # they have set up two-factor authentication.
    path("accounts/email/", views.email_change, name="email_change"),
    path("accounts/email/confirm/<str:token>/", views.email_change_confirm, name="email_change_confirm"),
    path(
        "accounts/confirm-email/<str:key>/",
        views.retired_email_confirmation,
        name="retired_email_confirmation",
    ),
    path("accounts/", include("allauth.urls")),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("", include("patients.urls")),
    path("", include("therapists.urls")),
    path("", include("programs.urls")),
    path("", include("messaging.urls")),
]
