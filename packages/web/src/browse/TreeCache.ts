import type { TreeView } from "@rtbackup/core";
import { BrowseTree } from "./BrowseTree.js";

/** Options of {@link TreeCache}. */
export interface TreeCacheOptions {
  /** Trees kept. Default 2. */
  size?: number;
  /** How long a tree read "as of now" still answers "now" (ms): newer commits show after at most this. Default 10 s. */
  freshMs?: number;
  /** The clock (ms since the epoch). */
  now?: () => number;
}

/** One tree read (or being read): asked as of `requested`, the read started at `started`. */
interface Slot {
  readonly requested: number;
  readonly started: number;
  readonly tree: Promise<BrowseTree>;
  /** Its moment, once read. */
  time?: number;
}

/**
 * The last few trees read, most recently used first. A tree read as of moment A holds every commit up to A that
 * existed when it was read, so it answers every moment from its own (its last commit's) time up to A, or up to when
 * the read started if A was later: a page that passes back the `at` a listing gave is answered by the same tree. A
 * tree read as of now (or later) answers later moments too for `freshMs`. Concurrent asks for the same moment share
 * one read; a read that fails is forgotten.
 */
export class TreeCache {
  readonly #load: (at: number) => Promise<TreeView>;
  readonly #size: number;
  readonly #freshMs: number;
  readonly #now: () => number;
  #slots: Slot[] = [];

  constructor(load: (at: number) => Promise<TreeView>, options: TreeCacheOptions = {}) {
    this.#load = load;
    this.#size = options.size ?? 2;
    this.#freshMs = options.freshMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** The tree as of `at` (ms since the epoch; default now). */
  get(at?: number): Promise<BrowseTree> {
    const now = this.#now();
    const moment = at ?? now;
    const hit = this.#slots.find((s) => this.#answers(s, moment, now));
    if (hit) {
      this.#slots = [hit, ...this.#slots.filter((s) => s !== hit)];
      return hit.tree;
    }
    const tree = this.#load(moment).then((view) => new BrowseTree(view));
    const slot: Slot = { requested: moment, started: now, tree };
    tree.then(
      (t) => (slot.time = t.time),
      () => (this.#slots = this.#slots.filter((s) => s !== slot)),
    );
    this.#slots = [slot, ...this.#slots].slice(0, this.#size);
    return tree;
  }

  /** Whether `slot`'s tree is the tree as of `moment`, asked at `now`. */
  #answers(slot: Slot, moment: number, now: number): boolean {
    const asOfNow = slot.requested >= slot.started;
    if (asOfNow && moment >= slot.started && now - slot.started < this.#freshMs) return true;
    if (slot.time === undefined) return moment === slot.requested;
    return slot.time <= moment && moment <= Math.min(slot.requested, slot.started);
  }
}
