/**
 * Reads a small stream — a manifest, a config, a request body — into memory, refusing anything past `limit` bytes:
 * at the first byte over the limit the stream is cancelled and `tooLarge()` is thrown, so memory stays bounded
 * whatever the other side sends.
 *
 * @example const bytes = await readBounded(res.body, MAX_MANIFEST_SIZE, () => new ManifestInvalidError('manifest too large'));
 */
export async function readBounded(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    parts.push(value);
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
