import { InputError } from "../../errors.js";
import type { UserRole, UserStore } from "../storage/user-store.js";
import { checkUserName, hashPassword } from "./password.js";

/** Adds a dashboard user (CLI and admin page); the name must be free. */
export async function addUser(
  users: UserStore,
  o: {
    name: string;
    role: UserRole;
    /** A scoped viewer's groups, already checked against the groups file (parseScopeGroups); null or absent: unscoped. */
    groups?: readonly string[] | null;
    password: string;
    now: number;
  },
): Promise<void> {
  checkUserName(o.name);
  const passwordHash = await hashPassword(o.password);
  const added = await users.addUser({
    name: o.name,
    role: o.role,
    groups: o.role === "admin" ? null : (o.groups ?? null),
    passwordHash,
    createdAt: o.now,
  });
  if (!added)
    throw new InputError(`user '${o.name}' exists; remove it first to change its password or role`, {
      reason: "already_exists",
    });
}
