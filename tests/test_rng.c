#include "pz_internal.h"

#include <criterion/criterion.h>

Test(rng, same_seed_and_stream_give_same_numbers)
{
    pz__rng a, b;
    pz__rng_seed(&a, 42, 7);
    pz__rng_seed(&b, 42, 7);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(pz__rng_next(&a), pz__rng_next(&b));
    }
}
