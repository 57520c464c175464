"""A small shop API: an HTML home page (a template), a JSON product with a query parameter,
and an order created from a JSON body (POST, 201; 400 on bad input)."""

import json

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

PRODUCTS = {1: {"id": 1, "name": "Kettle", "price_cents": 2900}, 2: {"id": 2, "name": "Teapot", "price_cents": 3500}}


@require_GET
def home(request):
    return render(request, "shop/home.html", {"products": PRODUCTS.values()})


@require_GET
def product(request, product_id: int):
    item = PRODUCTS.get(product_id)
    if item is None:
        return JsonResponse({"error": f"no product {product_id}"}, status=404)
    currency = request.GET.get("currency", "EUR")
    return JsonResponse({**item, "currency": currency, "host": request.get_host(), "secure": request.is_secure()})


@csrf_exempt  # an API called with JSON, not a form: no CSRF cookie to check
@require_POST
def create_order(request):
    try:
        order = json.loads(request.body)
        lines = [(PRODUCTS[int(line["product"])], int(line["quantity"])) for line in order["lines"]]
    except (ValueError, KeyError, TypeError) as e:
        return JsonResponse({"error": f"bad order: {e!r}"}, status=400)
    total = sum(item["price_cents"] * quantity for item, quantity in lines)
    return JsonResponse({"status": "created", "lines": len(lines), "total_cents": total}, status=201)
