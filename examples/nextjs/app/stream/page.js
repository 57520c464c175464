// A server-rendered page streamed in parts: the shell (with the Suspense fallback) leaves at
// once; the slow forecast follows when it is ready, in the same response. With
// AWS_LWA_INVOKE_MODE=response_stream and a RESPONSE_STREAM Function URL, the browser shows
// the shell while the forecast is still being computed.
import { Suspense } from "react";

export const dynamic = "force-dynamic"; // rendered per request, never prerendered

async function Forecast({ delayMs }) {
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  // When this part was rendered (ms since the epoch): it lets a test prove the shell reached
  // the client before this part even existed.
  const renderedAt = Date.now();
  return (
    <section id="forecast" data-rendered-at={renderedAt}>
      <h2>Forecast</h2>
      <p>Sunny, 21 °C, computed after {delayMs} ms.</p>
    </section>
  );
}

export default async function StreamPage({ searchParams }) {
  const params = await searchParams;
  const requested = Number.parseInt(params?.delay_ms ?? "1000", 10);
  const delayMs = Number.isFinite(requested) ? Math.min(Math.max(requested, 0), 10000) : 1000;
  return (
    <main>
      <h1>Streamed server rendering</h1>
      <p id="shell" data-sent-at={Date.now()}>
        This paragraph is in the first chunk.
      </p>
      <Suspense fallback={<p id="fallback">Loading the forecast…</p>}>
        <Forecast delayMs={delayMs} />
      </Suspense>
    </main>
  );
}
