"""A FastAPI app streaming server-sent events through lambda-adapter
(AWS_LWA_INVOKE_MODE=response_stream: each event reaches the client as the app sends it)."""

import asyncio
import json
import os
import time

from fastapi import FastAPI, Query
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/")
def index():
    return {"message": "Hello from FastAPI on Lambda", "stream": "/stream?count=5"}


@app.get("/stream")
async def stream(count: int = Query(5, ge=1, le=100), interval_ms: int = Query(200, ge=0, le=5000)):
    async def events():
        for n in range(1, count + 1):
            yield f"id: {n}\nevent: tick\ndata: {json.dumps({'n': n, 'of': count})}\n\n"
            await asyncio.sleep(interval_ms / 1000)
        # When the last event was made (ms since the epoch): lets a test prove the first event
        # reached the client before this one existed, i.e. the response really streamed.
        yield f"event: done\ndata: {json.dumps({'rendered_at': int(time.time() * 1000)})}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"cache-control": "no-cache"})


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
