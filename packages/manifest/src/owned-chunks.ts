/**
 * Chunk ownership: an opt-in protocol that lets the bytes of a blob stream be read into memory that is used again,
 * instead of fresh memory for every read.
 *
 * A producer (the registry client's socket reader, the archive's file reader) cuts the chunks it enqueues from slabs
 * of a {@link SlabPool} and marks its stream with {@link markOwnedChunks}. The reader of a marked stream owns each
 * chunk it reads: once done with the chunk's bytes it may call {@link releaseChunk}, and must not touch them after. A
 * slab whose chunks were all released goes back to its pool. A reader that never releases is always safe: its slabs
 * are simply garbage, as every chunk of an unmarked stream is.
 *
 * A stage between producer and reader that passes chunks on unchanged, keeping no reference (`copy`'s progress
 * counter, the registry client's resuming blob stream), carries the mark over to its own stream. Anything else (a
 * `tee`, a transform that keeps chunks) produces an unmarked stream, so a second holder of a chunk never sees its
 * bytes change.
 *
 * Why: where fresh memory is expensive (a VM whose host takes back freed guest pages), a 512 MiB pull or load spent a
 * second of system time on page faults when its buffers came from malloc one read at a time.
 */

const OWNED = Symbol.for('lade.ownedChunks');

/** Marks `stream` as handing its chunks over with ownership (see the module comment); returns it. */
export function markOwnedChunks<S extends ReadableStream<Uint8Array>>(stream: S): S {
  Object.defineProperty(stream, OWNED, { value: true });
  return stream;
}

/** Whether the reader of `stream` owns the chunks it reads and may release them. */
export function ownsChunks(stream: ReadableStream<Uint8Array>): boolean {
  return (stream as unknown as Record<symbol, unknown>)[OWNED] === true;
}

const slabOf = new WeakMap<ArrayBufferLike, Slab>();

/**
 * Gives a chunk read from a marked stream back: the reader is done with its bytes. Chunks of other origins are
 * ignored. Each chunk is released at most once.
 */
export function releaseChunk(chunk: Uint8Array): void {
  slabOf.get(chunk.buffer)?.release();
}

/**
 * Counts `view` (bytes of a slab) as a chunk handed over with ownership and returns it; a view of other memory is
 * returned as it is.
 */
export function handOver(view: Uint8Array): Uint8Array {
  slabOf.get(view.buffer)?.handOver();
  return view;
}

/** One slab: chunks are cut from it front to back; it returns to its pool once sealed and every chunk released. */
export class Slab {
  readonly bytes: Uint8Array;
  readonly #pool: SlabPool;
  #out = 0;
  #sealed = false;

  constructor(pool: SlabPool, size: number) {
    this.#pool = pool;
    this.bytes = new Uint8Array(new ArrayBuffer(size));
    slabOf.set(this.bytes.buffer, this);
  }

  /** A chunk of the slab, handed over with ownership. */
  cut(start: number, length: number): Uint8Array {
    this.handOver();
    return new Uint8Array(this.bytes.buffer, start, length);
  }

  /** @internal See {@link handOver}. */
  handOver(): void {
    // Sealed with nothing out: the slab is back in its pool, and its bytes may already be someone else's.
    if (this.#sealed && this.#out === 0) throw new Error('a chunk was cut from a slab that went back to its pool');
    this.#out++;
  }

  /** No more chunks will be cut (the producer moved on to another slab, or stopped). */
  seal(): void {
    if (this.#sealed) return;
    this.#sealed = true;
    if (this.#out === 0) this.#pool.put(this);
  }

  /** @internal */
  release(): void {
    if (this.#out === 0) return;
    this.#out--;
    if (this.#out === 0 && this.#sealed) this.#pool.put(this);
  }

  /** @internal Ready for cutting again. */
  reopen(): void {
    this.#sealed = false;
  }
}

/** Slabs of one size, kept for reuse up to `maxFree` of them. */
export class SlabPool {
  readonly slabSize: number;
  readonly maxFree: number;
  readonly #free: Slab[] = [];

  constructor(slabSize: number, maxFree: number) {
    this.slabSize = slabSize;
    this.maxFree = maxFree;
  }

  /** A slab to cut chunks from: a released one when there is one, else a new one. */
  take(): Slab {
    const slab = this.#free.pop();
    if (!slab) return new Slab(this, this.slabSize);
    slab.reopen();
    return slab;
  }

  /** @internal */
  put(slab: Slab): void {
    if (this.#free.length < this.maxFree) this.#free.push(slab);
  }

  /** Slabs waiting for reuse. */
  get free(): number {
    return this.#free.length;
  }
}

const pools = new Map<number, SlabPool>();

/**
 * The process-wide pool of `slabSize`-byte slabs, keeping at most 32 MiB of them free (the producers of one size
 * share it).
 */
export function slabPool(slabSize: number): SlabPool {
  let pool = pools.get(slabSize);
  if (!pool) {
    pool = new SlabPool(slabSize, Math.max(4, Math.floor((32 * 1024 * 1024) / slabSize)));
    pools.set(slabSize, pool);
  }
  return pool;
}
