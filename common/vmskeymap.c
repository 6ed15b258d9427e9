/* vmstream common: browser KeyboardEvent.code -> X keysym name and QEMU qcode.
 *
 * The browser sends physical key positions (KeyboardEvent.code), so both
 * targets get the key at the same position of a US layout; the guest's or
 * the X server's own keyboard layout then decides the character. */
#include "vmskeymap.h"

#include <string.h>

#define LETTER(c, l)                                                           \
  {                                                                            \
    "Key" c, l, l                                                              \
  }
#define DIGIT(d)                                                               \
  {                                                                            \
    "Digit" d, d, d                                                            \
  }
#define FKEY(n, l)                                                             \
  {                                                                            \
    "F" n, "F" n, l                                                            \
  }
#define KP(n)                                                                  \
  {                                                                            \
    "Numpad" n, "KP_" n, "kp_" n                                               \
  }

static const VmsKeyMapEntry keymap[] = {
  LETTER ("A", "a"),
  LETTER ("B", "b"),
  LETTER ("C", "c"),
  LETTER ("D", "d"),
  LETTER ("E", "e"),
  LETTER ("F", "f"),
  LETTER ("G", "g"),
  LETTER ("H", "h"),
  LETTER ("I", "i"),
  LETTER ("J", "j"),
  LETTER ("K", "k"),
  LETTER ("L", "l"),
  LETTER ("M", "m"),
  LETTER ("N", "n"),
  LETTER ("O", "o"),
  LETTER ("P", "p"),
  LETTER ("Q", "q"),
  LETTER ("R", "r"),
  LETTER ("S", "s"),
  LETTER ("T", "t"),
  LETTER ("U", "u"),
  LETTER ("V", "v"),
  LETTER ("W", "w"),
  LETTER ("X", "x"),
  LETTER ("Y", "y"),
  LETTER ("Z", "z"),
  DIGIT ("0"),
  DIGIT ("1"),
  DIGIT ("2"),
  DIGIT ("3"),
  DIGIT ("4"),
  DIGIT ("5"),
  DIGIT ("6"),
  DIGIT ("7"),
  DIGIT ("8"),
  DIGIT ("9"),
  FKEY ("1", "f1"),
  FKEY ("2", "f2"),
  FKEY ("3", "f3"),
  FKEY ("4", "f4"),
  FKEY ("5", "f5"),
  FKEY ("6", "f6"),
  FKEY ("7", "f7"),
  FKEY ("8", "f8"),
  FKEY ("9", "f9"),
  FKEY ("10", "f10"),
  FKEY ("11", "f11"),
  FKEY ("12", "f12"),
  { "Enter", "Return", "ret" },
  { "Escape", "Escape", "esc" },
  { "Backspace", "BackSpace", "backspace" },
  { "Tab", "Tab", "tab" },
  { "Space", "space", "spc" },
  { "Minus", "minus", "minus" },
  { "Equal", "equal", "equal" },
  { "BracketLeft", "bracketleft", "bracket_left" },
  { "BracketRight", "bracketright", "bracket_right" },
  { "Backslash", "backslash", "backslash" },
  { "IntlBackslash", "less", "less" },
  { "Semicolon", "semicolon", "semicolon" },
  { "Quote", "apostrophe", "apostrophe" },
  { "Backquote", "grave", "grave_accent" },
  { "Comma", "comma", "comma" },
  { "Period", "period", "dot" },
  { "Slash", "slash", "slash" },
  { "CapsLock", "Caps_Lock", "caps_lock" },
  { "ShiftLeft", "Shift_L", "shift" },
  { "ShiftRight", "Shift_R", "shift_r" },
  { "ControlLeft", "Control_L", "ctrl" },
  { "ControlRight", "Control_R", "ctrl_r" },
  { "AltLeft", "Alt_L", "alt" },
  { "AltRight", "Alt_R", "alt_r" },
  { "MetaLeft", "Super_L", "meta_l" },
  { "MetaRight", "Super_R", "meta_r" },
  { "ContextMenu", "Menu", "menu" },
  { "ArrowUp", "Up", "up" },
  { "ArrowDown", "Down", "down" },
  { "ArrowLeft", "Left", "left" },
  { "ArrowRight", "Right", "right" },
  { "Insert", "Insert", "insert" },
  { "Delete", "Delete", "delete" },
  { "Home", "Home", "home" },
  { "End", "End", "end" },
  { "PageUp", "Prior", "pgup" },
  { "PageDown", "Next", "pgdn" },
  { "PrintScreen", "Print", "print" },
  { "ScrollLock", "Scroll_Lock", "scroll_lock" },
  { "Pause", "Pause", "pause" },
  { "NumLock", "Num_Lock", "num_lock" },
  KP ("0"),
  KP ("1"),
  KP ("2"),
  KP ("3"),
  KP ("4"),
  KP ("5"),
  KP ("6"),
  KP ("7"),
  KP ("8"),
  KP ("9"),
  { "NumpadAdd", "KP_Add", "kp_add" },
  { "NumpadSubtract", "KP_Subtract", "kp_subtract" },
  { "NumpadMultiply", "KP_Multiply", "kp_multiply" },
  { "NumpadDivide", "KP_Divide", "kp_divide" },
  { "NumpadDecimal", "KP_Decimal", "kp_decimal" },
  { "NumpadEnter", "KP_Enter", "kp_enter" },
};

const VmsKeyMapEntry *
vms_keymap_lookup (const gchar *code)
{
  if (code == NULL)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (keymap); i++) {
    if (strcmp (keymap[i].code, code) == 0)
      return &keymap[i];
  }
  return NULL;
}

gboolean
vms_keymap_is_known (const gchar *code)
{
  return vms_keymap_lookup (code) != NULL;
}
