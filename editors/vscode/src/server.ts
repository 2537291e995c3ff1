// Where the server binary is, before anything is started.

import * as fs from "node:fs";
import * as path from "node:path";

/** Finds a command on PATH (or checks a path); undefined when it is not there. */
export function findExecutable(command: string, envPath = process.env.PATH ?? ""): string | undefined {
  const isFile = (p: string) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes("/") || command.includes("\\")) return isFile(command) ? command : undefined;
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isFile(candidate)) return candidate;
  }
  return undefined;
}
