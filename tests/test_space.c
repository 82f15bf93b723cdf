#include "pz_internal.h"
#include <criterion/criterion.h>
