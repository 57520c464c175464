<?php
// The front controller: PHP's built-in server sends every request here (run.sh). Routes:
// GET / (HTML), GET /api/time?tz=... (JSON), POST /api/notes (JSON body, 201), else a JSON 404.
declare(strict_types=1);

function send_json(int $status, array $payload): void
{
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($payload, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
}

$method = $_SERVER['REQUEST_METHOD'];
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?: '/';

if ($method === 'GET' && $path === '/') {
    header('Content-Type: text/html; charset=utf-8');
    $version = htmlspecialchars(PHP_VERSION);
    echo "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>PHP on AWS Lambda</title></head>\n";
    echo "<body><h1>PHP on AWS Lambda</h1><p>PHP {$version}, served by its built-in server behind lambda-adapter.</p></body></html>\n";
} elseif ($method === 'GET' && $path === '/api/time') {
    $zone = $_GET['tz'] ?? 'UTC';
    try {
        $now = new DateTimeImmutable('now', new DateTimeZone($zone));
    } catch (Exception $e) {
        send_json(400, ['error' => "unknown time zone {$zone}"]);
        return;
    }
    send_json(200, [
        'tz' => $zone,
        'now' => $now->format(DATE_ATOM),
        // Headers lambda-adapter adds: the event's request context and the invocation's context.
        'apiRequestId' => header_json('HTTP_X_AMZN_REQUEST_CONTEXT')['requestId'] ?? null,
        'lambdaRequestId' => header_json('HTTP_X_AMZN_LAMBDA_CONTEXT')['request_id'] ?? null,
    ]);
} elseif ($method === 'POST' && $path === '/api/notes') {
    $note = json_decode((string) file_get_contents('php://input'), true);
    if (!is_array($note) || !is_string($note['text'] ?? null)) {
        send_json(400, ['error' => 'expected a JSON object with a "text" string']);
        return;
    }
    send_json(201, ['stored' => $note['text'], 'bytes' => strlen($note['text'])]);
} else {
    send_json(404, ['error' => "no route for {$method} {$path}"]);
}

// A request header holding JSON, decoded ([] when absent or not a JSON object).
function header_json(string $name): array
{
    $value = json_decode($_SERVER[$name] ?? 'null', true);
    return is_array($value) ? $value : [];
}
