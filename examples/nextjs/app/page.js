// The home page: prerendered at build time, so it is also the cheap readiness-check path.
import Link from "next/link";

export default function Home() {
  return (
    <main>
      <h1>Next.js on AWS Lambda</h1>
      <p>
        Served by the standalone Next.js server, behind lambda-adapter. The{" "}
        <Link href="/stream">streamed page</Link> sends its shell at once and the slow part when
        it is ready; <a href="/api/greet?name=Lambda">/api/greet</a> is a route handler.
      </p>
    </main>
  );
}
