set pagination off
set confirm off
break add
continue
continue
continue
info registers r0 r1
set $i = 0
while $i < 6
  stepi
  printf "F %d %08x %08x\n", $i, $pc, $r3
  set $i = $i + 1
end
set $i = 0
while $i < 6
  reverse-stepi
  printf "R %d %08x %08x\n", $i, $pc, $r3
  set $i = $i + 1
end
reverse-continue
info registers r0 r1
reverse-continue
info registers r0 r1
delete
watch counter
continue
continue
p counter
reverse-continue
p counter
p/x $pc
delete
break *do_svc
continue
set $i = 0
while $i < 30
  stepi
  printf "F %d %08x %08x %08x %08x\n", $i + 6, $pc, $sp, $lr, $cpsr
  set $i = $i + 1
end
set $i = 0
while $i < 30
  reverse-stepi
  printf "R %d %08x %08x %08x %08x\n", $i + 6, $pc, $sp, $lr, $cpsr
  set $i = $i + 1
end
p in_handler
kill
