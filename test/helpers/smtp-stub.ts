import type { AddressInfo } from "node:net";
import { SMTPServer, type SMTPServerDataStream } from "smtp-server";

/**
 * A local SMTP server for tests (127.0.0.1, no TLS, no auth): records every message it accepts,
 * and can refuse the next ones with a temporary error.
 *
 *   const smtp = await startSmtpStub();             // smtp.url → smtp://127.0.0.1:<port>
 *   startServer({}, { SMTP_URL: smtp.url, SMTP_FROM: "Parley <parley@test.example>" })
 *   smtp.refuseNext(2);                             // 451 for the next two messages
 */

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The raw message (headers and body). */
  raw: string;
  subject: string;
  /** The text body, with quoted-printable soft breaks and escapes undone. */
  text: string;
}

export interface SmtpStub {
  url: string;
  messages: ReceivedMail[];
  /** Messages refused so far (temporary failures). */
  refused: number;
  refuseNext(n: number): void;
  stop(): Promise<void>;
}

function decodeQuotedPrintable(s: string): string {
  const bytes = s.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8");
}

/** Subject (RFC 2047 words decoded) and text body of a simple single-part message. */
function parse(raw: string): { subject: string; text: string } {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? "" : raw.slice(split).replace(/^\r?\n\r?\n/, "");
  const unfolded = head.replace(/\r?\n[ \t]+/g, " ");
  const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "im").exec(unfolded)?.[1] ?? "";
  const subject = header("Subject").replace(/=\?utf-8\?([BQ])\?([^?]*)\?=\s*/gi, (_m, enc: string, data: string) =>
    enc.toUpperCase() === "B" ? Buffer.from(data, "base64").toString("utf8") : decodeQuotedPrintable(data.replace(/_/g, " ")),
  );
  const encoding = header("Content-Transfer-Encoding").toLowerCase();
  const text =
    encoding === "base64" ? Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8") : encoding === "quoted-printable" ? decodeQuotedPrintable(body) : body;
  return { subject, text: text.replace(/\r\n/g, "\n") };
}

export async function startSmtpStub(): Promise<SmtpStub> {
  const messages: ReceivedMail[] = [];
  let toRefuse = 0;
  const state = { refused: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        if (toRefuse > 0) {
          toRefuse--;
          state.refused++;
          const err = Object.assign(new Error("Mailbox temporarily unavailable"), { responseCode: 451 });
          callback(err);
          return;
        }
        const raw = Buffer.concat(chunks).toString("utf8");
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          ...parse(raw),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    get refused() {
      return state.refused;
    },
    refuseNext(n) {
      toRefuse = n;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
