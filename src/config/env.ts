const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Expands `${NAME}` and `${NAME:-default}` with shell meaning: the default
 * replaces an unset or empty variable; a set, empty one without a default is
 * the empty string. Returns the names that are unset and have no default.
 */
export function expandEnv(
  value: string,
  env: NodeJS.ProcessEnv,
): { readonly value: string; readonly unset: readonly string[] } {
  if (!value.includes('${')) return { value, unset: [] };
  const unset: string[] = [];
  const expanded = value.replace(REFERENCE, (_match, name: string, fallback: string | undefined) => {
    const found = env[name];
    if (fallback !== undefined) return found === undefined || found === '' ? fallback : found;
    if (found === undefined) unset.push(name);
    return found ?? '';
  });
  return { value: expanded, unset };
}
