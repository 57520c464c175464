"""A FastAPI app that answers at once and finishes its work after the response
(BackgroundTasks), kept from being frozen half done by lambda-adapter's idle check
(AWS_LWA_IDLE_CHECK_PATH in lambda.env).

POST /orders                 accepts an order (202) and sends its receipt in the background
GET  /orders/{id}/receipt    the receipt once it was sent (404 before)
GET  /_lambda/idle           204 when no request or background task is running, else 503
"""

import json
import os
import tempfile
import time

from fastapi import BackgroundTasks, FastAPI, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel

IDLE_PATH = "/_lambda/idle"
# Stands in for an email or payment API; on Lambda /tmp lasts as long as the environment.
RECEIPTS = os.environ.get("RECEIPTS_FILE", os.path.join(tempfile.gettempdir(), "receipts.jsonl"))
SEND_SECONDS = float(os.environ.get("RECEIPT_SEND_SECONDS", "1.5"))


class Running:
    """Counts requests still being handled, background tasks included: Starlette runs a
    response's background tasks before the ASGI call returns. The idle check itself does not
    count. All updates happen on the event loop, so a plain integer is enough."""

    count = 0

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] == IDLE_PATH:
            return await self.app(scope, receive, send)
        Running.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            Running.count -= 1


app = FastAPI()
app.add_middleware(Running)


@app.get(IDLE_PATH, include_in_schema=False)
def idle():
    return Response(status_code=204 if Running.count == 0 else 503)


class Order(BaseModel):
    id: str
    email: str
    total: float


def send_receipt(order: Order):
    time.sleep(SEND_SECONDS)  # the slow call to the outside world
    with open(RECEIPTS, "a") as receipts:
        receipts.write(json.dumps({"order": order.id, "email": order.email, "total": order.total}) + "\n")
    print(f"receipt sent for order {order.id}", flush=True)


@app.post("/orders", status_code=202)
def place_order(order: Order, background: BackgroundTasks):
    background.add_task(send_receipt, order)
    return {"order": order.id, "status": "accepted"}


@app.get("/orders/{order_id}/receipt")
def receipt(order_id: str):
    try:
        with open(RECEIPTS) as receipts:
            for line in receipts:
                sent = json.loads(line)
                if sent["order"] == order_id:
                    return {"order": order_id, "receipt": "sent", "email": sent["email"]}
    except FileNotFoundError:
        pass
    raise HTTPException(status_code=404, detail=f"no receipt sent for order {order_id}")


@app.get("/")
def index():
    return {"message": "FastAPI with work after the response", "orders": "/orders"}
