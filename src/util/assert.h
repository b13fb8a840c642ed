/* Invariants written as checks: LC_ASSERT(cond) aborts with file:line and the condition when
 * cond is false. Active when LC_CHECKS is defined (the sanitizer build `make test` uses, or
 * -DLUCENT_CHECKS=ON); otherwise the condition is not evaluated. */
#ifndef LC_UTIL_ASSERT_H
#define LC_UTIL_ASSERT_H

_Noreturn void lc_assert_fail(const char *cond, const char *file, int line);

#ifdef LC_CHECKS
#define LC_ASSERT(cond) ((cond) ? (void)0 : lc_assert_fail(#cond, __FILE__, __LINE__))
#else
#define LC_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif
