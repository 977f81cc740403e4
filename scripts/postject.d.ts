/** postject ships no types; this is the part of its API the build uses (dist/api.js). */
declare module "postject" {
  export interface InjectOptions {
    /** Mach-O segment for the resource (Node's SEA reads NODE_SEA). */
    machoSegmentName?: string;
    overwrite?: boolean;
    /** The fuse string flipped to mark the binary as carrying a resource. */
    sentinelFuse?: string;
  }
  export function inject(
    filename: string,
    resourceName: string,
    resourceData: Buffer,
    options?: InjectOptions,
  ): Promise<void>;
}
