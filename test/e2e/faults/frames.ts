/** Malformed frames for the socket fuzz tests: fixed cases from real reports, then seeded random mutations. */

/** A small seeded random source (mulberry32), so a failing run can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const ODD_VALUES: unknown[] = [
  null,
  0,
  -1,
  1e308,
  "",
  "x",
  true,
  [],
  [null],
  {},
  { type: null },
  "\u0000",
  "💥".repeat(50),
];

/**
 * `count` frames: the fixed cases in turn, each followed by a mutation of one of the templates (a field set
 * to an odd value, removed, or the text cut short).
 */
export function* malformedFrames(options: {
  fixed: string[];
  templates: Array<Record<string, unknown>>;
  count: number;
  seed: number;
}): Generator<string> {
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  for (let i = 0; i < options.count; i++) {
    if (i % 2 === 0) {
      yield options.fixed[(i / 2) % options.fixed.length]!;
      continue;
    }
    const frame = structuredClone(pick(options.templates));
    const target = pickObject(frame, random);
    const keys = Object.keys(target);
    const roll = random();
    if (roll < 0.4 && keys.length > 0) target[pick(keys)] = structuredClone(pick(ODD_VALUES));
    else if (roll < 0.7 && keys.length > 0) delete target[pick(keys)];
    else if (roll < 0.85) {
      const text = JSON.stringify(frame);
      yield text.slice(0, Math.floor(random() * text.length));
      continue;
    } else target[`k${Math.floor(random() * 100)}`] = structuredClone(pick(ODD_VALUES));
    yield JSON.stringify(frame);
  }
}

/** The frame itself or one of the objects nested in it, at random. */
function pickObject(frame: Record<string, unknown>, random: () => number): Record<string, unknown> {
  let node = frame;
  for (let depth = 0; depth < 3 && random() < 0.6; depth++) {
    const children = Object.values(node).filter(
      (v): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v),
    );
    if (children.length === 0) break;
    node = children[Math.floor(random() * children.length)]!;
  }
  return node;
}
