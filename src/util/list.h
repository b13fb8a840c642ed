/* Intrusive doubly-linked circular list (libuv QUEUE / Linux list_head style). */
#ifndef LC_UTIL_LIST_H
#define LC_UTIL_LIST_H

#include <stddef.h>

#define lc_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

typedef struct lc_list {
    struct lc_list *next, *prev;
} lc_list_t;

static inline void lc_list_init(lc_list_t *h)
{
    h->next = h->prev = h;
}
static inline int lc_list_empty(const lc_list_t *h)
{
    return h->next == h;
}
/* Insert n before h (at the tail when h is the head). */
static inline void lc_list_insert_tail(lc_list_t *h, lc_list_t *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
static inline void lc_list_remove(lc_list_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}
/* Node stays a valid empty list after removal, so removing twice is harmless. */
#define lc_list_foreach(pos, head) for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)
#define lc_list_foreach_safe(pos, tmp, head)                                                       \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                               \
         (pos) = (tmp), (tmp) = (pos)->next)

#endif
