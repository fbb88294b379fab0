export declare function withTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void>;
//# sourceMappingURL=tempDir.d.ts.map