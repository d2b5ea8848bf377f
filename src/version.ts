/** Sluice's version; `package.json` says the same (a test checks). */
export const VERSION = "0.1.0";
