from django.urls import path, re_path

from app import views

urlpatterns = [
    path("items/", views.items),
    path("item/<int:item_id>/", views.item),
    path("nplus1/", views.nplus1),
    path("nplus1/page/", views.nplus1_page),
    path("fail/", views.fail),
    path("noquery/", views.noquery),
    path("slow/", views.slow),
    path("bg/", views.bg),
    path("longquery/<int:length>/", views.longquery),
    path("unicode/", views.unicode),
    path("multibyte/<int:count>/", views.multibyte),
    re_path(r"^pid/$", views.pid),
    path("stack/query/", views.stack_query),
    path("stack/loop/", views.stack_loop),
    path("stack/cbv/", views.StackView.as_view()),
    path("stack/thread/", views.stack_thread),
    path("secrets/", views.secrets),
    path("view/page/", views.view_page),
    path("view/class/", views.PageView.as_view()),
    path("view/login/", views.view_login),
    path("view/wrapped/", views.view_wrapped),
    path("view/made/", views.view_made),
    path("view/raises/", views.view_raises),
]
