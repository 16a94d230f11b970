import { deflateSync } from "node:zlib";

/** Tiny real images, built as bytes, for upload tests. */

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    let c = (crc ^ b) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A 1×1 RGB PNG of the given colour. */
export function png(r = 255, g = 87, b = 34): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0);
  ihdr.writeUInt32BE(1, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", deflateSync(Buffer.from([0, r, g, b]))),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A 1×1 white GIF89a. */
export const gif = (): Buffer =>
  Buffer.from([
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x21, 0xf9,
    0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00,
    0x3b,
  ]);

/** A 1×1 baseline greyscale JPEG (JFIF). */
export const jpeg = (): Buffer =>
  Buffer.from(
    "ffd8ffe000104a46494600010101004800480000ffdb004300" +
      "ff".repeat(64) +
      "c2000b080001000101011100ffc40014100100000000000000000000000000000000ffda0008010100013f10ffd9",
    "hex",
  );

/** A 1×1 lossless WebP (RIFF container, VP8L chunk). */
export function webp(): Buffer {
  const vp8l = Buffer.from("2f00000010071011118888fe0700", "hex");
  const chunkHeader = Buffer.concat([Buffer.from("VP8L", "ascii"), Buffer.alloc(4)]);
  chunkHeader.writeUInt32LE(13, 4);
  const body = Buffer.concat([Buffer.from("WEBP", "ascii"), chunkHeader, vp8l]);
  const riff = Buffer.concat([Buffer.from("RIFF", "ascii"), Buffer.alloc(4)]);
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

/** A minimal PDF: not an image, whatever a data URL claims. */
export const pdf = (): Buffer => Buffer.from("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "ascii");

export const dataUrl = (bytes: Buffer, mediaType = "image/png") => `data:${mediaType};base64,${bytes.toString("base64")}`;
