/**
 * Reads a modal's state. Block ids may carry a ":<suffix>" (we change a block's id to make Slack
 * apply a new initial value on views.update), so lookups go by prefix and return the real id too.
 */
export type ViewStateValues = Record<string, Record<string, ViewStateValue>>;

export interface ViewStateValue {
  type?: string;
  value?: string | null;
  selected_option?: { value?: string } | null;
  selected_user?: string | null;
  selected_conversation?: string | null;
  selected_time?: string | null;
  selected_date?: string | null;
}

export function findBlock(
  values: ViewStateValues,
  prefix: string,
): { blockId: string; value: ViewStateValue | undefined } {
  const blockId = Object.keys(values).find((key) => key === prefix || key.startsWith(`${prefix}:`)) ?? prefix;
  const actions = values[blockId];
  const value = actions ? Object.values(actions)[0] : undefined;
  return { blockId, value };
}

export function readValue(value: ViewStateValue | undefined): string | undefined {
  if (!value) return undefined;
  const raw =
    value.value ??
    value.selected_option?.value ??
    value.selected_user ??
    value.selected_conversation ??
    value.selected_time ??
    value.selected_date ??
    undefined;
  if (raw === null || raw === undefined) return undefined;
  const trimmed = String(raw).trim();
  return trimmed === '' ? undefined : trimmed;
}
