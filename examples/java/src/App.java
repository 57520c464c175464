// A Java web app on the JDK's own HTTP server (com.sun.net.httpserver), nothing to download:
// GET / (text), GET /hello?name=... (JSON), POST /notes (JSON body echoed back, 201), and a
// JSON 404 for anything else. It listens on 127.0.0.1:$PORT (default 8080), where
// lambda-adapter forwards each event, and stops cleanly on SIGTERM (Lambda's shutdown).
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

public final class App {
    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
        ExecutorService workers = Executors.newFixedThreadPool(4);
        server.setExecutor(workers);
        server.createContext("/", App::route);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.stop(1); // finish in-flight exchanges for at most a second
            workers.shutdown();
        }));
        server.start();
        System.out.println("listening on http://127.0.0.1:" + port);
    }

    private static void route(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            String path = exchange.getRequestURI().getPath();
            if (path.equals("/") && method.equals("GET")) {
                send(exchange, 200, "text/plain; charset=utf-8", "Hello from Java on AWS Lambda!\n");
            } else if (path.equals("/hello") && method.equals("GET")) {
                String name = queryParameter(exchange.getRequestURI().getRawQuery(), "name", "world");
                send(exchange, 200, "application/json",
                        "{\"greeting\":" + json("Hello, " + name + "!") + ",\"path\":" + json(path) + "}");
            } else if (path.equals("/notes") && method.equals("POST")) {
                String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                String type = exchange.getRequestHeaders().getFirst("Content-Type");
                send(exchange, 201, "application/json",
                        "{\"stored\":" + json(body) + ",\"bytes\":" + body.getBytes(StandardCharsets.UTF_8).length
                                + ",\"contentType\":" + json(type == null ? "" : type) + "}");
            } else {
                send(exchange, 404, "application/json", "{\"error\":" + json("no route for " + method + " " + path) + "}");
            }
        }
    }

    private static void send(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** The first value of a query parameter, URL-decoded, or the fallback. */
    private static String queryParameter(String rawQuery, String key, String fallback) {
        if (rawQuery == null) {
            return fallback;
        }
        for (String pair : rawQuery.split("&")) {
            int eq = pair.indexOf('=');
            String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            if (name.equals(key)) {
                return eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            }
        }
        return fallback;
    }

    /** A JSON string literal. */
    private static String json(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
