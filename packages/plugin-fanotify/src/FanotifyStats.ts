/** Counters of one fanotify source, for the stats console. They only grow. */
export interface FanotifyStats {
  /** Deliveries from the addon (one per event-loop wakeup with events). */
  batches: number;
  /** Kernel events received. */
  events: number;
  /** Change events handed to `engine.submit`. */
  submitted: number;
  /** Update events dropped because the same path was already updated in the same batch. */
  deduplicated: number;
  /** Events dropped as the agent's own, under an ignored path, or under `.zfs/snapshot`. */
  ignored: number;
  /** Queue overflows (and other losses) reported by the kernel; each became a rescan of the filesystems. */
  overflows: number;
  /** Events whose path could not be resolved; each became a rescan (of the parent directory where known). */
  unresolved: number;
  /** Events on objects that had no name any more (an unlinked file's last attribute change); their delete covers them. */
  orphans: number;
  /** `engine.submit` calls that threw. */
  submitErrors: number;
  /** Read errors that ended a fanotify group (it was re-created, and its mounts rescanned). */
  readErrors: number;
  /** Events the kernel could not deliver (it failed to open their file: ENOENT, ESTALE, EMFILE, ...); each became a rescan. */
  lost: number;
  /** Rescans asked for (lost events, overflows, directories that saw events in fd mode), before coalescing. */
  rescansRequested: number;
  /** Rescans submitted after coalescing. */
  rescans: number;
  /** fanotify groups re-created after a read error ended them. */
  groupsRecreated: number;
}

/** Fresh zeroed counters. */
export function emptyFanotifyStats(): FanotifyStats {
  return {
    batches: 0,
    events: 0,
    submitted: 0,
    deduplicated: 0,
    ignored: 0,
    overflows: 0,
    unresolved: 0,
    orphans: 0,
    submitErrors: 0,
    readErrors: 0,
    lost: 0,
    rescansRequested: 0,
    rescans: 0,
    groupsRecreated: 0,
  };
}
