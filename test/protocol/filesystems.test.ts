/**
 * The one rule of which filesystems a sample reports (src/protocol/filesystems.ts),
 * shared by the agent's mount selection and the central's foreign inputs: the
 * real ones, else the root alone whatever its type.
 */
import { describe, expect, it } from "vitest";
import { isRealFsType, mayBeReported, realDisksOrRoot } from "../../src/protocol/index.js";

describe("filesystems a sample reports", () => {
  it("a type that is not ignored, or not known, is real; a pseudo type is not", () => {
    expect(isRealFsType("ext4")).toBe(true);
    expect(isRealFsType(null)).toBe(true);
    expect(isRealFsType("overlay")).toBe(false);
    expect(isRealFsType("tmpfs")).toBe(false);
  });

  it("a decoder keeps the real filesystems and the root of any type, and drops other pseudo ones", () => {
    expect(mayBeReported("/data", "xfs")).toBe(true);
    expect(mayBeReported("/", "overlay")).toBe(true);
    expect(mayBeReported("/dev/shm", "tmpfs")).toBe(false);
    expect(mayBeReported("/var/lib/docker/overlay2/x/merged", "overlay")).toBe(false);
  });

  it("reports the real filesystems, the root alone when none is real, and nothing without a root", () => {
    expect(realDisksOrRoot(["/", "/data"], "overlay-root")).toEqual(["/", "/data"]);
    expect(realDisksOrRoot([], "overlay-root")).toEqual(["overlay-root"]);
    expect(realDisksOrRoot([], undefined)).toEqual([]);
  });
});
