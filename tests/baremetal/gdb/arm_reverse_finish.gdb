set pagination off
set confirm off
break vfp_work
continue
delete
next
reverse-finish
p $pc
reverse-step
p $pc
next
p $pc
kill
