// Next.js for lambda-adapter: a self-contained server (`output: "standalone"`) that install.sh
// assembles into build/ with run.sh, ready to zip.
/** @type {import('next').NextConfig} */
const nextConfig = {
  output: "standalone",
  // Lambda answers from one machine; no telemetry, no "X-Powered-By".
  poweredByHeader: false,
  // A Function URL or API Gateway compresses nothing in streaming mode, but gzip inside Next
  // would hold small streamed chunks back in zlib's buffer; leave compression off here.
  compress: false,
};

export default nextConfig;
