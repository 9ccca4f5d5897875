set pagination off
set confirm off
break add
continue
monitor savevm s1
continue
continue
info registers r0 r1
monitor loadvm s1
maintenance flush register-cache
info registers r0 r1 pc
set $i = 0
while $i < 8
  stepi
  printf "F %d %08x %08x %08x\n", $i, $pc, $sp, $r3
  set $i = $i + 1
end
set $i = 0
while $i < 8
  reverse-stepi
  printf "R %d %08x %08x %08x\n", $i, $pc, $sp, $r3
  set $i = $i + 1
end
reverse-stepi
info registers r0 r1 pc
kill
