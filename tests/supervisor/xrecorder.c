/* vms-xrecorder: a full-screen X window that prints the input it receives.
 *
 * Used by the supervisor tests to check that input sent through the API and
 * the WebSocket reaches the X desktop through XTest. Output, one per line:
 *   READY <width> <height>
 *   key-press <keysym name>      key-release <keysym name>
 *   button-press <n> <x> <y>     button-release <n> <x> <y>
 *   motion <x> <y>
 * Runs until killed. */
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

int
main (void)
{
  Display *dpy = XOpenDisplay (NULL);
  Window win;
  int scr, w, h, ready = 0;
  XSetWindowAttributes attrs;

  if (dpy == NULL) {
    fprintf (stderr, "vms-xrecorder: cannot open display\n");
    return 1;
  }
  scr = DefaultScreen (dpy);
  w = DisplayWidth (dpy, scr);
  h = DisplayHeight (dpy, scr);
  attrs.override_redirect = True;
  attrs.background_pixel = WhitePixel (dpy, scr);
  attrs.event_mask = KeyPressMask | KeyReleaseMask | ButtonPressMask
                     | ButtonReleaseMask | PointerMotionMask
                     | StructureNotifyMask | ExposureMask;
  win = XCreateWindow (dpy, RootWindow (dpy, scr), 0, 0, (unsigned)w,
                       (unsigned)h, 0, CopyFromParent, InputOutput,
                       CopyFromParent,
                       CWOverrideRedirect | CWBackPixel | CWEventMask, &attrs);
  XStoreName (dpy, win, "vms-xrecorder");
  XMapRaised (dpy, win);
  XFlush (dpy);

  for (;;) {
    XEvent ev;
    XNextEvent (dpy, &ev);
    switch (ev.type) {
      case MapNotify:
      case Expose:
        if (!ready) {
          XSetInputFocus (dpy, win, RevertToParent, CurrentTime);
          XSync (dpy, False);
          printf ("READY %d %d\n", w, h);
          ready = 1;
        }
        break;
      case KeyPress:
      case KeyRelease: {
        KeySym sym = XLookupKeysym (&ev.xkey, 0);
        const char *name = XKeysymToString (sym);
        printf ("%s %s\n", ev.type == KeyPress ? "key-press" : "key-release",
                name ? name : "?");
        break;
      }
      case ButtonPress:
      case ButtonRelease:
        printf ("%s %u %d %d\n",
                ev.type == ButtonPress ? "button-press" : "button-release",
                ev.xbutton.button, ev.xbutton.x, ev.xbutton.y);
        break;
      case MotionNotify:
        printf ("motion %d %d\n", ev.xmotion.x, ev.xmotion.y);
        break;
      default:
        break;
    }
    fflush (stdout);
  }
  return 0;
}
