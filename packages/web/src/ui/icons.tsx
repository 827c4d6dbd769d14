/**
 * The interface's icons as inline SVG (drawn in the text colour), so they show on systems without
 * an emoji font. Decorative: the control around each one carries the accessible name.
 */

const common = {
  width: "1em",
  height: "1em",
  viewBox: "0 0 24 24",
  fill: "none",
  stroke: "currentColor",
  strokeWidth: 2,
  strokeLinecap: "round",
  strokeLinejoin: "round",
  focusable: false,
  className: "icon",
} as const;

/** A paperclip: attach a file. */
export function PaperclipIcon() {
  return (
    <svg {...common} aria-hidden="true">
      <path d="M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9" />
    </svg>
  );
}

/** Two people: a group conversation. */
export function GroupIcon() {
  return (
    <svg {...common} aria-hidden="true">
      <circle cx="9" cy="8" r="3.5" />
      <path d="M2.5 20a6.5 6.5 0 0 1 13 0" />
      <path d="M16 4.8a3.5 3.5 0 0 1 0 6.4" />
      <path d="M18.5 14.2a6.5 6.5 0 0 1 3 5.8" />
    </svg>
  );
}
