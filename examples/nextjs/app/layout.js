export const metadata = {
  title: "Next.js on AWS Lambda",
  description: "A Next.js app served by lambda-adapter",
};

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: "system-ui, sans-serif", margin: "2rem auto", maxWidth: "40rem" }}>
        {children}
      </body>
    </html>
  );
}
