// A route handler: GET answers a greeting (query string `name`), POST echoes a JSON body (201).
export const dynamic = "force-dynamic";

export async function GET(request) {
  const name = request.nextUrl.searchParams.get("name") || "world";
  return Response.json({ greeting: `Hello, ${name}!`, path: request.nextUrl.pathname });
}

export async function POST(request) {
  let received;
  try {
    received = await request.json();
  } catch {
    return Response.json({ error: "the body is not JSON" }, { status: 400 });
  }
  return Response.json({ received }, { status: 201 });
}
