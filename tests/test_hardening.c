/* placeholder, replaced below */
#include <criterion/criterion.h>
