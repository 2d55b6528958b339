/**
 * Files on replies: the size check every adapter makes before it sends anything, so a file over the platform's
 * limit is refused whole (`E_FILE_TOO_LARGE`, with a message naming the file and the limit) and nothing of the
 * reply is half sent.
 */
import { SwitchboardError, type ReplyFile } from "../../bot/index.ts";

/** `12.3 MB`, `640 KB`, `17 bytes`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "")} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

/** Throw `E_FILE_TOO_LARGE` when the file is over `maxBytes` (or the platform sends no files: `undefined`). */
export function assertFileFits(
  file: ReplyFile,
  { maxBytes, platform }: { maxBytes: number | undefined; platform: string },
): void {
  if (maxBytes !== undefined && file.data.byteLength <= maxBytes) return;
  const why =
    maxBytes === undefined
      ? `${platform} cannot send files here`
      : `${platform} takes files up to ${formatBytes(maxBytes)}`;
  throw new SwitchboardError("E_FILE_TOO_LARGE", `file ${file.name} (${file.data.byteLength} bytes): ${why}`, {
    chatMessage: `The file ${file.name} is ${formatBytes(file.data.byteLength)}; ${why}, so it was not sent.`,
    details: { name: file.name, bytes: file.data.byteLength, maxBytes },
  });
}

/** The MIME type to send a file with. */
export function mimeTypeOf(file: ReplyFile): string {
  return file.mimeType ?? "application/octet-stream";
}
