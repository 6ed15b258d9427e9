/* LD_PRELOAD shim for the supervisor tests: makes the X server refuse one
 * input event the way a server with fewer buttons would. XTest button 9
 * (DOM button 4, "forward") is sent as button 200, which X answers with an
 * asynchronous BadValue error: the test checks that the session process
 * survives it and goes on injecting. Every other call is passed on. */
#include <X11/Xlib.h>
#include <dlfcn.h>

int XTestFakeButtonEvent (Display *dpy, unsigned int button, Bool is_press,
                          unsigned long delay);

int
XTestFakeButtonEvent (Display *dpy, unsigned int button, Bool is_press,
                      unsigned long delay)
{
  static int (*real) (Display *, unsigned int, Bool, unsigned long);

  if (real == NULL)
    real = (int (*) (Display *, unsigned int, Bool, unsigned long))dlsym (
        RTLD_NEXT, "XTestFakeButtonEvent");
  return real (dpy, button == 9 ? 200 : button, is_press, delay);
}
