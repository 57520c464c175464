from django.urls import path

from . import views

urlpatterns = [
    path("", views.home),
    path("products/<int:product_id>", views.product),
    path("orders", views.create_order),
]
